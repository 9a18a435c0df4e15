from collections.abc import Callable
from typing import Any

class HitPath:
    __wrapped__: Callable[..., Any]
    def __init__(
        self,
        memo: Callable[..., Any],
        memo_no_kwargs: Callable[..., Any],
        fallback: Callable[..., Any],
        wrapped: Callable[..., Any],
    ) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

class CallDefault:
    __wrapped__: Callable[..., Any]
    def __init__(
        self, namespace: dict[str, Any], name: str, method: str, wrapped: Callable[..., Any]
    ) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
