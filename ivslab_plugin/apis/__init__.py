from .runner import (
                     add_common_args,
                     apply_data_overrides,
                     load_config,
                     merge_train_args,
                     test,
                     train,
)

__all__ = [
    'add_common_args', 'apply_data_overrides', 'load_config',
    'merge_train_args', 'test', 'train'
]
