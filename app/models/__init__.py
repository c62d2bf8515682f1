"""Every table, in one package."""

from app.models.accounts import ROLES, ApiToken, AuditEvent, User, UserRole, UserSession
from app.models.admin import GuidelineVersion, Invitation
from app.models.base import Base, utcnow
from app.models.cohorts import AnnotatorTag
from app.models.demonstrations import Demonstration
from app.models.imports import ImportedComparison, PreferenceImport
from app.models.labeling import Assignment, Comparison, Completion, Pair
from app.models.playground import PlaygroundMatch
from app.models.policies import PolicyVersion, RewardModel
from app.models.projects import Project, ProjectMember
from app.models.prompts import Prompt
from app.models.rankings import Ranking, RankingItem
from app.models.review import Adjudication
from app.models.snapshots import AggregateSnapshot
from app.models.training import TrainingRun, WorkerHeartbeat
from app.vocabulary import (
    Agreement,
    AssignmentStatus,
    Choice,
    DemonstrationStatus,
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
    "Demonstration",
    "DemonstrationStatus",
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
    "AnnotatorTag",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "Base",
    "Comparison",
    "Completion",
    "GuidelineVersion",
    "ImportedComparison",
    "Invitation",
    "Pair",
    "PlaygroundMatch",
    "PolicyVersion",
    "PreferenceImport",
    "Project",
    "ProjectMember",
    "Prompt",
    "Ranking",
    "RankingItem",
    "RewardModel",
    "TrainingRun",
    "User",
    "UserRole",
    "UserSession",
    "WorkerHeartbeat",
    "utcnow",
]
