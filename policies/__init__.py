"""The assurance engine: levels, risk assessment, per-service floors, decisions.

Pure Python with no I/O beyond reading its own data files; a leaf that imports nothing from
idgw, providers or face_check. Public functions take keyword-only arguments and return frozen
dataclasses.
"""

from policies.acr import ACR_VALUES_SUPPORTED, AcrValue, acr_alternatives, combined_acr, first_satisfied, parse_acr
from policies.authn import AALRules, SessionLimit, default_rules
from policies.decision import (
    AuthRequest,
    Decision,
    PolicyError,
    Reason,
    ServicePolicy,
    SessionState,
    evaluate,
)
from policies.levels import AAL, IAL, LevelError
from policies.risk import Assessment, AssessmentError, assess, default_matrix

__all__ = ["AAL", "ACR_VALUES_SUPPORTED", "IAL", "AALRules", "AcrValue", "Assessment", "AssessmentError",
           "AuthRequest", "Decision", "LevelError", "PolicyError", "Reason", "ServicePolicy", "SessionLimit",
           "SessionState", "acr_alternatives", "assess", "combined_acr", "default_matrix", "default_rules", "evaluate",
           "first_satisfied", "parse_acr"]
