"""Initial schema: the whole trial record of issue 4, the audit chain and its guards.

Written with Alembic's autogenerate against the models and then completed by hand: the
audit chain head row (id 1, sequence 0, the genesis hash) and the database-level guards
of the audit trail, as triggers on both SQLite and PostgreSQL:

* ``audit_log`` rejects UPDATE and DELETE (and TRUNCATE on PostgreSQL);
* an INSERT into ``audit_log`` must extend the chain head (``seq = last_seq + 1`` and
  ``prev_hash = last_hash``);
* ``audit_chain_head`` cannot be deleted and may only advance by one, to an existing row.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("table_name", sa.String(length=60), nullable=False),
        sa.Column("row_key", sa.String(length=200), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "insert",
                "update",
                "delete",
                name="action",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("field_name", sa.String(length=60), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("row_hash", name=op.f("uq_audit_log_row_hash")),
    )
    op.create_index(op.f("ix_audit_log_study_id"), "audit_log", ["study_id"], unique=False)
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=400), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "setup",
                "active",
                "closed",
                "locked",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_offset_min", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
        sa.UniqueConstraint("code", name=op.f("uq_studies_code")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_offset_min", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "product_lots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("lot_number", sa.String(length=60), nullable=False),
        sa.Column("cell_type", sa.String(length=80), nullable=False),
        sa.Column("source_tissue", sa.String(length=80), nullable=False),
        sa.Column(
            "donor_type",
            sa.Enum(
                "autologous",
                "allogeneic",
                name="donor_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("donor_code", sa.String(length=60), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "quarantine",
                "released",
                "rejected",
                "expired",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("manufactured_on", sa.Date(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total_cells", sa.Double(), nullable=True),
        sa.Column("volume_ml", sa.Double(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_offset_min", sa.SmallInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_product_lots_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_lots")),
        sa.UniqueConstraint(
            "study_id", "lot_number", name=op.f("uq_product_lots_study_id_lot_number")
        ),
    )
    op.create_index(op.f("ix_product_lots_study_id"), "product_lots", ["study_id"], unique=False)
    op.create_table(
        "protocol_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("version_label", sa.String(length=40), nullable=False),
        sa.Column("yaml_text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_protocol_versions_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_versions")),
        sa.UniqueConstraint(
            "study_id", "sha256", name=op.f("uq_protocol_versions_study_id_sha256")
        ),
        sa.UniqueConstraint(
            "study_id", "version_label", name=op.f("uq_protocol_versions_study_id_version_label")
        ),
    )
    op.create_index(
        op.f("ix_protocol_versions_study_id"), "protocol_versions", ["study_id"], unique=False
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_sites_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("study_id", "code", name=op.f("uq_sites_study_id_code")),
    )
    op.create_index(op.f("ix_sites_study_id"), "sites", ["study_id"], unique=False)
    op.create_table(
        "arms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ratio_weight", sa.SmallInteger(), nullable=False),
        sa.Column("receives_cells", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_versions.id"],
            name=op.f("fk_arms_protocol_version_id_protocol_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_arms_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arms")),
        sa.UniqueConstraint("study_id", "code", name=op.f("uq_arms_study_id_code")),
    )
    op.create_index(op.f("ix_arms_study_id"), "arms", ["study_id"], unique=False)
    op.create_table(
        "lot_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column(
            "decision",
            sa.Enum(
                "quarantine",
                "released",
                "rejected",
                "expired",
                name="decision",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["users.id"],
            name=op.f("fk_lot_releases_decided_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["product_lots.id"], name=op.f("fk_lot_releases_lot_id_product_lots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_releases")),
    )
    op.create_index(op.f("ix_lot_releases_lot_id"), "lot_releases", ["lot_id"], unique=False)
    op.create_table(
        "randomization_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_randomization_lists_created_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_versions.id"],
            name=op.f("fk_randomization_lists_protocol_version_id_protocol_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_randomization_lists_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_randomization_lists")),
        sa.UniqueConstraint("study_id", "name", name=op.f("uq_randomization_lists_study_id_name")),
    )
    op.create_index(
        op.f("ix_randomization_lists_study_id"), "randomization_lists", ["study_id"], unique=False
    )
    op.create_table(
        "role_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "investigator",
                "coordinator",
                "blinded_assessor",
                "cell_lab",
                "monitor",
                "statistician",
                "data_manager",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("granted_by_user_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_offset_min", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["granted_by_user_id"],
            ["users.id"],
            name=op.f("fk_role_assignments_granted_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_role_assignments_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_role_assignments_study_id_studies")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_role_assignments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_assignments")),
    )
    op.create_index(
        op.f("ix_role_assignments_study_id"), "role_assignments", ["study_id"], unique=False
    )
    op.create_index(
        op.f("ix_role_assignments_user_id"), "role_assignments", ["user_id"], unique=False
    )
    op.create_table(
        "screenings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("screening_number", sa.String(length=40), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "pending",
                "eligible",
                "screen_failed",
                "enrolled",
                name="outcome",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("screened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("screened_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("screened_by_user_id", sa.Integer(), nullable=False),
        sa.Column("consent_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_versions.id"],
            name=op.f("fk_screenings_protocol_version_id_protocol_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["screened_by_user_id"],
            ["users.id"],
            name=op.f("fk_screenings_screened_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_screenings_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_screenings_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screenings")),
        sa.UniqueConstraint(
            "study_id", "screening_number", name=op.f("uq_screenings_study_id_screening_number")
        ),
    )
    op.create_index(op.f("ix_screenings_site_id"), "screenings", ["site_id"], unique=False)
    op.create_index(op.f("ix_screenings_study_id"), "screenings", ["study_id"], unique=False)
    op.create_table(
        "eligibility_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("screening_id", sa.Integer(), nullable=False),
        sa.Column("criterion_code", sa.String(length=60), nullable=False),
        sa.Column("raw_text", sa.Text(), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["screening_id"],
            ["screenings.id"],
            name=op.f("fk_eligibility_answers_screening_id_screenings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eligibility_answers")),
        sa.UniqueConstraint(
            "screening_id",
            "criterion_code",
            name=op.f("uq_eligibility_answers_screening_id_criterion_code"),
        ),
    )
    op.create_index(
        op.f("ix_eligibility_answers_screening_id"),
        "eligibility_answers",
        ["screening_id"],
        unique=False,
    )
    op.create_table(
        "randomization_states",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("state_sha256", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_offset_min", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["randomization_lists.id"],
            name=op.f("fk_randomization_states_list_id_randomization_lists"),
        ),
        sa.PrimaryKeyConstraint("list_id", name=op.f("pk_randomization_states")),
    )
    op.create_table(
        "release_tests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("test_code", sa.String(length=40), nullable=False),
        sa.Column("raw_text", sa.Text(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("unit", sa.String(length=40), nullable=True),
        sa.Column("specification", sa.String(length=200), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["lot_releases.id"],
            name=op.f("fk_release_tests_release_id_lot_releases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_tests")),
        sa.UniqueConstraint(
            "release_id", "test_code", name=op.f("uq_release_tests_release_id_test_code")
        ),
    )
    op.create_index(
        op.f("ix_release_tests_release_id"), "release_tests", ["release_id"], unique=False
    )
    op.create_table(
        "screen_failure_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("screening_id", sa.Integer(), nullable=False),
        sa.Column("criterion_code", sa.String(length=60), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["screening_id"],
            ["screenings.id"],
            name=op.f("fk_screen_failure_reasons_screening_id_screenings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screen_failure_reasons")),
    )
    op.create_index(
        op.f("ix_screen_failure_reasons_screening_id"),
        "screen_failure_reasons",
        ["screening_id"],
        unique=False,
    )
    op.create_table(
        "subjects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("screening_id", sa.Integer(), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("subject_code", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "enrolled",
                "randomized",
                "completed",
                "withdrawn",
                "lost_to_follow_up",
                "died",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolled_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("enrolled_by_user_id", sa.Integer(), nullable=False),
        sa.Column("stroke_onset_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stroke_onset_offset_min", sa.SmallInteger(), nullable=True),
        sa.Column("anchor_date", sa.Date(), nullable=True),
        sa.Column("strata", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolled_by_user_id"],
            ["users.id"],
            name=op.f("fk_subjects_enrolled_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_versions.id"],
            name=op.f("fk_subjects_protocol_version_id_protocol_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["screening_id"], ["screenings.id"], name=op.f("fk_subjects_screening_id_screenings")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_subjects_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_subjects_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subjects")),
        sa.UniqueConstraint("screening_id", name=op.f("uq_subjects_screening_id")),
        sa.UniqueConstraint(
            "study_id", "subject_code", name=op.f("uq_subjects_study_id_subject_code")
        ),
    )
    op.create_index(op.f("ix_subjects_site_id"), "subjects", ["site_id"], unique=False)
    op.create_index(op.f("ix_subjects_study_id"), "subjects", ["study_id"], unique=False)
    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("arm_id", sa.Integer(), nullable=False),
        sa.Column("sequence_number", sa.Integer(), nullable=False),
        sa.Column("stratum", sa.String(length=400), nullable=False),
        sa.Column("strata", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("allocated_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("allocated_by_user_id", sa.Integer(), nullable=False),
        sa.Column(
            "allocated_by_role",
            sa.Enum(
                "investigator",
                "coordinator",
                "blinded_assessor",
                "cell_lab",
                "monitor",
                "statistician",
                "data_manager",
                "admin",
                name="allocated_by_role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["allocated_by_user_id"],
            ["users.id"],
            name=op.f("fk_allocations_allocated_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(["arm_id"], ["arms.id"], name=op.f("fk_allocations_arm_id_arms")),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["randomization_lists.id"],
            name=op.f("fk_allocations_list_id_randomization_lists"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_allocations_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
        sa.UniqueConstraint(
            "list_id", "sequence_number", name=op.f("uq_allocations_list_id_sequence_number")
        ),
        sa.UniqueConstraint("subject_id", name=op.f("uq_allocations_subject_id")),
    )
    op.create_index(op.f("ix_allocations_list_id"), "allocations", ["list_id"], unique=False)
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("visit_code", sa.String(length=20), nullable=False),
        sa.Column("visit_name", sa.String(length=100), nullable=False),
        sa.Column("visit_number", sa.Integer(), nullable=False),
        sa.Column("expected_date", sa.Date(), nullable=False),
        sa.Column("window_before_days", sa.SmallInteger(), nullable=False),
        sa.Column("window_after_days", sa.SmallInteger(), nullable=False),
        sa.Column("actual_date", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled",
                "done",
                "missed",
                "out_of_window",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_versions.id"],
            name=op.f("fk_visits_protocol_version_id_protocol_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_visits_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
        sa.UniqueConstraint(
            "subject_id", "visit_code", name=op.f("uq_visits_subject_id_visit_code")
        ),
    )
    op.create_index(op.f("ix_visits_subject_id"), "visits", ["subject_id"], unique=False)
    op.create_table(
        "form_instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("form_code", sa.String(length=40), nullable=False),
        sa.Column("instrument_code", sa.String(length=40), nullable=True),
        sa.Column("instrument_version", sa.String(length=40), nullable=True),
        sa.Column("repeat_index", sa.SmallInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "incomplete", "complete", name="status", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("assessment_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("updated_by_user_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_form_instances_created_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_versions.id"],
            name=op.f("fk_form_instances_protocol_version_id_protocol_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_form_instances_subject_id_subjects")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_user_id"],
            ["users.id"],
            name=op.f("fk_form_instances_updated_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_form_instances_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_instances")),
        sa.UniqueConstraint(
            "subject_id",
            "visit_id",
            "form_code",
            "repeat_index",
            name=op.f("uq_form_instances_subject_id_visit_id_form_code_repeat_index"),
        ),
    )
    op.create_index(
        op.f("ix_form_instances_subject_id"), "form_instances", ["subject_id"], unique=False
    )
    op.create_index(
        op.f("ix_form_instances_visit_id"), "form_instances", ["visit_id"], unique=False
    )
    op.create_table(
        "unblinding_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "investigator",
                "coordinator",
                "blinded_assessor",
                "cell_lab",
                "monitor",
                "statistician",
                "data_manager",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("unblinded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unblinded_offset_min", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.id"],
            name=op.f("fk_unblinding_events_allocation_id_allocations"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_unblinding_events_subject_id_subjects")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_unblinding_events_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unblinding_events")),
    )
    op.create_index(
        op.f("ix_unblinding_events_subject_id"), "unblinding_events", ["subject_id"], unique=False
    )
    op.create_table(
        "administrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("form_instance_id", sa.Integer(), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("administration_number", sa.SmallInteger(), nullable=False),
        sa.Column("administered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("administered_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("operator_user_id", sa.Integer(), nullable=False),
        sa.Column("weight_kg", sa.Double(), nullable=False),
        sa.Column("cell_count", sa.Double(), nullable=False),
        sa.Column("viability_pct", sa.Double(), nullable=False),
        sa.Column("dose_cells_per_kg", sa.Double(), nullable=False),
        sa.Column("concentration_cells_per_ml", sa.Double(), nullable=False),
        sa.Column("volume_ml", sa.Double(), nullable=False),
        sa.Column("route", sa.String(length=40), nullable=False),
        sa.Column("vessel", sa.String(length=80), nullable=True),
        sa.Column("infusion_rate_ml_per_min", sa.Double(), nullable=True),
        sa.Column("hours_since_onset", sa.Double(), nullable=False),
        sa.Column("post_imaging_done", sa.Boolean(), nullable=True),
        sa.Column("post_imaging_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new_dwi_lesions", sa.SmallInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_instance_id"],
            ["form_instances.id"],
            name=op.f("fk_administrations_form_instance_id_form_instances"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["product_lots.id"], name=op.f("fk_administrations_lot_id_product_lots")
        ),
        sa.ForeignKeyConstraint(
            ["operator_user_id"],
            ["users.id"],
            name=op.f("fk_administrations_operator_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_versions.id"],
            name=op.f("fk_administrations_protocol_version_id_protocol_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_administrations_subject_id_subjects")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_administrations_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_administrations")),
        sa.UniqueConstraint(
            "subject_id",
            "administration_number",
            name=op.f("uq_administrations_subject_id_administration_number"),
        ),
    )
    op.create_index(op.f("ix_administrations_lot_id"), "administrations", ["lot_id"], unique=False)
    op.create_index(
        op.f("ix_administrations_subject_id"), "administrations", ["subject_id"], unique=False
    )
    op.create_table(
        "adverse_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("form_instance_id", sa.Integer(), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("ae_number", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("body_system", sa.String(length=120), nullable=False),
        sa.Column("onset_date", sa.Date(), nullable=False),
        sa.Column("resolution_date", sa.Date(), nullable=True),
        sa.Column("ongoing", sa.Boolean(), nullable=False),
        sa.Column("ctcae_grade", sa.SmallInteger(), nullable=False),
        sa.Column("serious", sa.Boolean(), nullable=False),
        sa.Column("serious_criteria", sa.JSON(), nullable=False),
        sa.Column("related_to_product", sa.String(length=20), nullable=False),
        sa.Column("related_to_procedure", sa.String(length=20), nullable=False),
        sa.Column("expected", sa.Boolean(), nullable=False),
        sa.Column("action_taken", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("expedited_report_required", sa.Boolean(), nullable=False),
        sa.Column("expedited_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("reported_by_user_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "ctcae_grade BETWEEN 1 AND 5", name=op.f("ck_adverse_events_ctcae_grade")
        ),
        sa.ForeignKeyConstraint(
            ["form_instance_id"],
            ["form_instances.id"],
            name=op.f("fk_adverse_events_form_instance_id_form_instances"),
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_versions.id"],
            name=op.f("fk_adverse_events_protocol_version_id_protocol_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["reported_by_user_id"],
            ["users.id"],
            name=op.f("fk_adverse_events_reported_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_adverse_events_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_events")),
        sa.UniqueConstraint(
            "subject_id", "ae_number", name=op.f("uq_adverse_events_subject_id_ae_number")
        ),
    )
    op.create_index(
        op.f("ix_adverse_events_subject_id"), "adverse_events", ["subject_id"], unique=False
    )
    op.create_table(
        "derived_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_instance_id", sa.Integer(), nullable=False),
        sa.Column("param_code", sa.String(length=40), nullable=False),
        sa.Column("value_num", sa.Double(), nullable=True),
        sa.Column("value_text", sa.String(length=200), nullable=True),
        sa.Column("engine", sa.String(length=80), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_instance_id"],
            ["form_instances.id"],
            name=op.f("fk_derived_values_form_instance_id_form_instances"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_derived_values")),
        sa.UniqueConstraint(
            "form_instance_id",
            "param_code",
            name=op.f("uq_derived_values_form_instance_id_param_code"),
        ),
    )
    op.create_index(
        op.f("ix_derived_values_form_instance_id"),
        "derived_values",
        ["form_instance_id"],
        unique=False,
    )
    op.create_table(
        "item_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_instance_id", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.String(length=60), nullable=False),
        sa.Column("raw_text", sa.Text(), nullable=True),
        sa.Column(
            "value_type",
            sa.Enum(
                "integer",
                "decimal",
                "text",
                "code",
                "date",
                "datetime",
                "boolean",
                name="value_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("value_int", sa.BigInteger(), nullable=True),
        sa.Column("value_num", sa.Double(), nullable=True),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("value_datetime", sa.DateTime(timezone=True), nullable=True),
        sa.Column("value_bool", sa.Boolean(), nullable=True),
        sa.Column("unit", sa.String(length=40), nullable=True),
        sa.Column("missing_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["form_instance_id"],
            ["form_instances.id"],
            name=op.f("fk_item_values_form_instance_id_form_instances"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_values")),
        sa.UniqueConstraint(
            "form_instance_id", "item_code", name=op.f("uq_item_values_form_instance_id_item_code")
        ),
    )
    op.create_index(
        op.f("ix_item_values_form_instance_id"), "item_values", ["form_instance_id"], unique=False
    )
    op.create_table(
        "queries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("form_instance_id", sa.Integer(), nullable=True),
        sa.Column("item_code", sa.String(length=60), nullable=True),
        sa.Column("check_code", sa.String(length=60), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "answered",
                "closed",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("opened_by_user_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_offset_min", sa.SmallInteger(), nullable=True),
        sa.Column("closed_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_by_user_id"], ["users.id"], name=op.f("fk_queries_closed_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["form_instance_id"],
            ["form_instances.id"],
            name=op.f("fk_queries_form_instance_id_form_instances"),
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_user_id"], ["users.id"], name=op.f("fk_queries_opened_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_queries_study_id_studies")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_queries_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queries")),
    )
    op.create_index(op.f("ix_queries_study_id"), "queries", ["study_id"], unique=False)
    op.create_index(op.f("ix_queries_subject_id"), "queries", ["subject_id"], unique=False)
    op.create_table(
        "record_locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column(
            "scope",
            sa.Enum(
                "form",
                "visit",
                "subject",
                "study",
                name="scope",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("form_instance_id", sa.Integer(), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("locked_by_user_id", sa.Integer(), nullable=False),
        sa.Column("unlocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unlocked_offset_min", sa.SmallInteger(), nullable=True),
        sa.Column("unlocked_by_user_id", sa.Integer(), nullable=True),
        sa.Column("unlock_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["form_instance_id"],
            ["form_instances.id"],
            name=op.f("fk_record_locks_form_instance_id_form_instances"),
        ),
        sa.ForeignKeyConstraint(
            ["locked_by_user_id"],
            ["users.id"],
            name=op.f("fk_record_locks_locked_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_record_locks_study_id_studies")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_record_locks_subject_id_subjects")
        ),
        sa.ForeignKeyConstraint(
            ["unlocked_by_user_id"],
            ["users.id"],
            name=op.f("fk_record_locks_unlocked_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_record_locks_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_locks")),
    )
    op.create_index(op.f("ix_record_locks_study_id"), "record_locks", ["study_id"], unique=False)
    op.create_index(
        op.f("ix_record_locks_subject_id"), "record_locks", ["subject_id"], unique=False
    )
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column(
            "scope",
            sa.Enum(
                "form",
                "visit",
                "subject",
                "study",
                name="scope",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("form_instance_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "investigator",
                "coordinator",
                "blinded_assessor",
                "cell_lab",
                "monitor",
                "statistician",
                "data_manager",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("meaning", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("reauthenticated", sa.Boolean(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("invalidated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invalidated_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["form_instance_id"],
            ["form_instances.id"],
            name=op.f("fk_signatures_form_instance_id_form_instances"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_signatures_study_id_studies")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_signatures_subject_id_subjects")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_signatures_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_signatures_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signatures")),
    )
    op.create_index(op.f("ix_signatures_study_id"), "signatures", ["study_id"], unique=False)
    op.create_index(op.f("ix_signatures_subject_id"), "signatures", ["subject_id"], unique=False)
    op.create_table(
        "protocol_deviations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("administration_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("major", sa.Boolean(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("detected_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administrations.id"],
            name=op.f("fk_protocol_deviations_administration_id_administrations"),
        ),
        sa.ForeignKeyConstraint(
            ["detected_by_user_id"],
            ["users.id"],
            name=op.f("fk_protocol_deviations_detected_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_versions.id"],
            name=op.f("fk_protocol_deviations_protocol_version_id_protocol_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_protocol_deviations_study_id_studies")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_protocol_deviations_subject_id_subjects")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_protocol_deviations_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_deviations")),
    )
    op.create_index(
        op.f("ix_protocol_deviations_study_id"), "protocol_deviations", ["study_id"], unique=False
    )
    op.create_index(
        op.f("ix_protocol_deviations_subject_id"),
        "protocol_deviations",
        ["subject_id"],
        unique=False,
    )
    op.create_table(
        "query_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column(
            "author_role",
            sa.Enum(
                "investigator",
                "coordinator",
                "blinded_assessor",
                "cell_lab",
                "monitor",
                "statistician",
                "data_manager",
                "admin",
                name="author_role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("written_offset_min", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"], ["users.id"], name=op.f("fk_query_messages_author_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["query_id"], ["queries.id"], name=op.f("fk_query_messages_query_id_queries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_query_messages")),
    )
    op.create_index(
        op.f("ix_query_messages_query_id"), "query_messages", ["query_id"], unique=False
    )
    op.create_table(
        "safety_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("rule_code", sa.String(length=60), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("adverse_event_id", sa.Integer(), nullable=True),
        sa.Column("triggered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_user_id"],
            ["users.id"],
            name=op.f("fk_safety_signals_acknowledged_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["adverse_event_id"],
            ["adverse_events.id"],
            name=op.f("fk_safety_signals_adverse_event_id_adverse_events"),
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_versions.id"],
            name=op.f("fk_safety_signals_protocol_version_id_protocol_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_safety_signals_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_signals")),
    )
    op.create_index(
        op.f("ix_safety_signals_study_id"), "safety_signals", ["study_id"], unique=False
    )
    _create_audit_guards()


def downgrade() -> None:
    _drop_audit_guards()
    op.drop_index(op.f("ix_safety_signals_study_id"), table_name="safety_signals")
    op.drop_table("safety_signals")
    op.drop_index(op.f("ix_query_messages_query_id"), table_name="query_messages")
    op.drop_table("query_messages")
    op.drop_index(op.f("ix_protocol_deviations_subject_id"), table_name="protocol_deviations")
    op.drop_index(op.f("ix_protocol_deviations_study_id"), table_name="protocol_deviations")
    op.drop_table("protocol_deviations")
    op.drop_index(op.f("ix_signatures_subject_id"), table_name="signatures")
    op.drop_index(op.f("ix_signatures_study_id"), table_name="signatures")
    op.drop_table("signatures")
    op.drop_index(op.f("ix_record_locks_subject_id"), table_name="record_locks")
    op.drop_index(op.f("ix_record_locks_study_id"), table_name="record_locks")
    op.drop_table("record_locks")
    op.drop_index(op.f("ix_queries_subject_id"), table_name="queries")
    op.drop_index(op.f("ix_queries_study_id"), table_name="queries")
    op.drop_table("queries")
    op.drop_index(op.f("ix_item_values_form_instance_id"), table_name="item_values")
    op.drop_table("item_values")
    op.drop_index(op.f("ix_derived_values_form_instance_id"), table_name="derived_values")
    op.drop_table("derived_values")
    op.drop_index(op.f("ix_adverse_events_subject_id"), table_name="adverse_events")
    op.drop_table("adverse_events")
    op.drop_index(op.f("ix_administrations_subject_id"), table_name="administrations")
    op.drop_index(op.f("ix_administrations_lot_id"), table_name="administrations")
    op.drop_table("administrations")
    op.drop_index(op.f("ix_unblinding_events_subject_id"), table_name="unblinding_events")
    op.drop_table("unblinding_events")
    op.drop_index(op.f("ix_form_instances_visit_id"), table_name="form_instances")
    op.drop_index(op.f("ix_form_instances_subject_id"), table_name="form_instances")
    op.drop_table("form_instances")
    op.drop_index(op.f("ix_visits_subject_id"), table_name="visits")
    op.drop_table("visits")
    op.drop_index(op.f("ix_allocations_list_id"), table_name="allocations")
    op.drop_table("allocations")
    op.drop_index(op.f("ix_subjects_study_id"), table_name="subjects")
    op.drop_index(op.f("ix_subjects_site_id"), table_name="subjects")
    op.drop_table("subjects")
    op.drop_index(
        op.f("ix_screen_failure_reasons_screening_id"), table_name="screen_failure_reasons"
    )
    op.drop_table("screen_failure_reasons")
    op.drop_index(op.f("ix_release_tests_release_id"), table_name="release_tests")
    op.drop_table("release_tests")
    op.drop_table("randomization_states")
    op.drop_index(op.f("ix_eligibility_answers_screening_id"), table_name="eligibility_answers")
    op.drop_table("eligibility_answers")
    op.drop_index(op.f("ix_screenings_study_id"), table_name="screenings")
    op.drop_index(op.f("ix_screenings_site_id"), table_name="screenings")
    op.drop_table("screenings")
    op.drop_index(op.f("ix_role_assignments_user_id"), table_name="role_assignments")
    op.drop_index(op.f("ix_role_assignments_study_id"), table_name="role_assignments")
    op.drop_table("role_assignments")
    op.drop_index(op.f("ix_randomization_lists_study_id"), table_name="randomization_lists")
    op.drop_table("randomization_lists")
    op.drop_index(op.f("ix_lot_releases_lot_id"), table_name="lot_releases")
    op.drop_table("lot_releases")
    op.drop_index(op.f("ix_arms_study_id"), table_name="arms")
    op.drop_table("arms")
    op.drop_index(op.f("ix_sites_study_id"), table_name="sites")
    op.drop_table("sites")
    op.drop_index(op.f("ix_protocol_versions_study_id"), table_name="protocol_versions")
    op.drop_table("protocol_versions")
    op.drop_index(op.f("ix_product_lots_study_id"), table_name="product_lots")
    op.drop_table("product_lots")
    op.drop_table("users")
    op.drop_table("studies")
    op.drop_index(op.f("ix_audit_log_study_id"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("audit_chain_head")


GENESIS_HASH = "0" * 64

_SQLITE_GUARDS = (
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END""",
    """CREATE TRIGGER audit_log_append_check BEFORE INSERT ON audit_log
    WHEN NEW.seq IS NOT (SELECT last_seq + 1 FROM audit_chain_head WHERE id = 1)
      OR NEW.prev_hash IS NOT (SELECT last_hash FROM audit_chain_head WHERE id = 1)
    BEGIN SELECT RAISE(ABORT, 'audit_log insert does not extend the chain head'); END""",
    """CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
    BEGIN SELECT RAISE(ABORT, 'audit_chain_head cannot be deleted'); END""",
    """CREATE TRIGGER audit_chain_head_advance BEFORE UPDATE ON audit_chain_head
    WHEN NEW.id IS NOT OLD.id OR NEW.last_seq IS NOT OLD.last_seq + 1
      OR NOT EXISTS (SELECT 1 FROM audit_log
                     WHERE seq = NEW.last_seq AND row_hash = NEW.last_hash)
    BEGIN SELECT RAISE(ABORT, 'audit_chain_head may only advance by one to an existing row');
    END""",
)

_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS audit_log_no_update",
    "DROP TRIGGER IF EXISTS audit_log_no_delete",
    "DROP TRIGGER IF EXISTS audit_log_append_check",
    "DROP TRIGGER IF EXISTS audit_chain_head_no_delete",
    "DROP TRIGGER IF EXISTS audit_chain_head_advance",
)

_PG_GUARDS = (
    """CREATE FUNCTION audit_log_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    """CREATE FUNCTION audit_log_check_append() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE head record;
    BEGIN
        SELECT last_seq, last_hash INTO head FROM audit_chain_head WHERE id = 1;
        IF head IS NULL OR NEW.seq IS DISTINCT FROM head.last_seq + 1
           OR NEW.prev_hash IS DISTINCT FROM head.last_hash THEN
            RAISE EXCEPTION 'audit_log insert does not extend the chain head (seq %)', NEW.seq
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE FUNCTION audit_chain_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'audit_chain_head cannot be deleted'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NEW.id IS DISTINCT FROM OLD.id OR NEW.last_seq IS DISTINCT FROM OLD.last_seq + 1
           OR NOT EXISTS (SELECT 1 FROM audit_log
                          WHERE seq = NEW.last_seq AND row_hash = NEW.last_hash) THEN
            RAISE EXCEPTION 'audit_chain_head may only advance by one to an existing row'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_reject_change()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_reject_change()""",
    """CREATE TRIGGER audit_log_append_check BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_check_append()""",
    """CREATE TRIGGER audit_chain_head_guard BEFORE UPDATE OR DELETE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION audit_chain_head_guard()""",
    """CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_reject_change()""",
)

_PG_DROP = (
    "DROP TRIGGER IF EXISTS audit_chain_head_no_truncate ON audit_chain_head",
    "DROP TRIGGER IF EXISTS audit_chain_head_guard ON audit_chain_head",
    "DROP TRIGGER IF EXISTS audit_log_append_check ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "DROP FUNCTION IF EXISTS audit_chain_head_guard()",
    "DROP FUNCTION IF EXISTS audit_log_check_append()",
    "DROP FUNCTION IF EXISTS audit_log_reject_change()",
)


def _create_audit_guards() -> None:
    op.execute(
        sa.text(
            "INSERT INTO audit_chain_head (id, last_seq, last_hash) "
            f"VALUES (1, 0, '{GENESIS_HASH}')"
        )
    )
    dialect = op.get_bind().dialect.name
    guards = _PG_GUARDS if dialect == "postgresql" else _SQLITE_GUARDS
    for statement in guards:
        op.execute(sa.text(statement))


def _drop_audit_guards() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _PG_DROP if dialect == "postgresql" else _SQLITE_DROP:
        op.execute(sa.text(statement))
