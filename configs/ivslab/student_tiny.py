# The previous student (until 2026-12-03): CSPNeXt P5 at widen 0.125, stage 3
# out (64 ch). Less accurate than student.py (NME_pupil 0.0199 vs 0.0175,
# means of three seeds at 80 epochs on the sample data); docs/embedded.md's
# latency tables of 2026-11 were measured on it.
#
# It was trained with all four stages built (0.297 M parameters), but stage 4
# never fed the head. It is dropped here: the outputs are the same, DDP needs
# no find_unused_parameters, and the parameter count is that of the network
# that runs (0.089 M; 0.0243 GMACs as before, since MMEngine's traced count
# never included the unused stage). Checkpoints of the four-stage build still
# load; their `backbone.stage4.*` weights are reported as unexpected keys and
# ignored.
_base_ = ['./student.py']

model = dict(
    backbone=dict(
        widen_factor=0.125,
        # P5's first three stages, written out so that a change of
        # student.py's stages cannot change this network
        arch_ovewrite=[[64, 128, 3, True, False], [128, 256, 6, True, False],
                       [256, 512, 6, True, False]],
        out_indices=(3, )),
    head=dict(in_channels=64))
