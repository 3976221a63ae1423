# The previous student (until 2026-12-03): CSPNeXt P5 with all four stages at
# widen 0.125, stage 3 out (64 ch). Half the multiply-adds of student.py
# (0.0243 GMACs, 0.297 M parameters, 0.208 M of them in the unused stage 4)
# and less accurate (NME_pupil 0.0199 vs 0.0175, means of three seeds at 80
# epochs on the sample data); docs/embedded.md's latency tables of 2026-11
# were measured on it.
_base_ = ['./student.py']

model = dict(
    backbone=dict(widen_factor=0.125, arch_ovewrite=None),
    head=dict(in_channels=64))
