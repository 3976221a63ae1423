from .single_teacher_distiller import (
                                       SingleTeacherPoseDistiller,
                                       decay_factor,
                                       resolve_config_path,
                                       student_state_from_distiller,
                                       without_pretrained,
)

__all__ = ['SingleTeacherPoseDistiller', 'decay_factor', 'resolve_config_path',
           'student_state_from_distiller', 'without_pretrained']
