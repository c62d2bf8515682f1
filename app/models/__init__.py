"""Every table, in one package."""

from app.models.accounts import ROLES, ApiToken, AuditEvent, User, UserRole, UserSession
from app.models.admin import GuidelineVersion, Invitation
from app.models.base import Base, utcnow
from app.models.labeling import Assignment, Comparison, Completion, Pair
from app.models.policies import PolicyVersion, RewardModel
from app.models.projects import Project, ProjectMember
from app.models.prompts import Prompt
from app.models.training import TrainingRun, WorkerHeartbeat

__all__ = [
    "ROLES",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "Base",
    "Comparison",
    "Completion",
    "GuidelineVersion",
    "Invitation",
    "Pair",
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
