"""Every table, in one package."""

from app.models.accounts import ROLES, ApiToken, AuditEvent, User, UserRole, UserSession
from app.models.admin import GuidelineVersion, Invitation
from app.models.base import Base, utcnow
from app.models.labeling import Assignment, Comparison, Completion, Pair
from app.models.playground import PlaygroundMatch
from app.models.policies import PolicyVersion, RewardModel
from app.models.projects import Project, ProjectMember
from app.models.prompts import Prompt
from app.models.review import Adjudication
from app.models.snapshots import AggregateSnapshot
from app.models.training import TrainingRun, WorkerHeartbeat
from app.vocabulary import (
    Agreement,
    AssignmentStatus,
    Choice,
    InvitationKind,
    MatchSource,
    PairKind,
    PairStatus,
    ReviewStatus,
    Role,
    RunKind,
    RunStatus,
    Side,
    Strength,
    VersionStatus,
)

__all__ = [
    "Adjudication",
    "Agreement",
    "ReviewStatus",
    "AssignmentStatus",
    "Choice",
    "InvitationKind",
    "MatchSource",
    "PairKind",
    "PairStatus",
    "Role",
    "RunKind",
    "RunStatus",
    "Side",
    "Strength",
    "VersionStatus",
    "ROLES",
    "AggregateSnapshot",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "Base",
    "Comparison",
    "Completion",
    "GuidelineVersion",
    "Invitation",
    "Pair",
    "PlaygroundMatch",
    "PolicyVersion",
    "Project",
    "ProjectMember",
    "Prompt",
    "RewardModel",
    "TrainingRun",
    "User",
    "UserRole",
    "UserSession",
    "WorkerHeartbeat",
    "utcnow",
]
