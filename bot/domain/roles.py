"""What a person may do in a unit."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OFFICER = "officer"  # fills in the unit's reports
    SUPERVISOR = "supervisor"  # follows the reports of the unit's subtree
    ADMIN = "admin"  # sets up units, invites, templates
