# The previous student: CSPNeXt P5 at widen 0.125, stage 3 out (64 ch), less
# accurate than student.py; docs/embedded.md's latency tables were measured on it.
# Checkpoints of its four-stage build load too: their backbone.stage4.* weights
# are reported as unexpected keys and ignored.
_base_ = ['./student.py']

model = dict(
    backbone=dict(
        widen_factor=0.125,
        # written out, so a change of student.py's stages cannot change this network
        arch_ovewrite=[[64, 128, 3, True, False], [128, 256, 6, True, False],
                       [256, 512, 6, True, False]],
        out_indices=(3, )),
    head=dict(in_channels=64))
