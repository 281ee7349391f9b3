from .backbones import *  # noqa: F401,F403
from .body_models import *  # noqa: F401,F403
from .discriminators import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .initializers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .pose_estimators import *  # noqa: F401,F403
