"""The full stack's landmark models (backends) for the device code's
Landmarker, the MMDetection detector, TSV face boxes and MMPose drawing."""
