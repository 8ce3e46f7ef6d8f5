"""Rows for store tests: one of every entity, linked as a real trial would link them."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from strokecell.store import LotStatus, Role, ValueType, hash_password
from strokecell.store import models as m

NOW = datetime(2026, 5, 4, 8, 15, 30, 250000, tzinfo=UTC)
YAML = "study: STC-ICH\nversion: '1.0'\narms: [CELL, CTRL]\n"


def build_trial(s: Session) -> dict[str, int]:
    """One row of every table, linked as a real trial would link them."""
    study = m.Study(code="STC-ICH", title="UC-MSC after ICH", created_at=NOW,
                    created_offset_min=480)
    s.add(study)
    s.flush()
    pv = m.ProtocolVersion(study_id=study.id, version_label="1.0", yaml_text=YAML,
                           sha256=hashlib.sha256(YAML.encode()).hexdigest(),
                           effective_at=NOW, effective_offset_min=480)
    site = m.Site(study_id=study.id, code="S01", name="Site one", country="CN",
                  timezone="Asia/Shanghai")
    user = m.User(username="inv1", full_name="Dr One", password_hash=hash_password("correct horse"),
                  created_at=NOW, created_offset_min=480)
    s.add_all([pv, site, user])
    s.flush()
    arm = m.Arm(study_id=study.id, protocol_version_id=pv.id, code="CELL", name="UC-MSC",
                ratio_weight=1, receives_cells=True)
    s.add_all([arm, m.RoleAssignment(user_id=user.id, study_id=study.id, site_id=site.id,
                                     role=Role.INVESTIGATOR, granted_at=NOW,
                                     granted_offset_min=480)])
    scr = m.Screening(study_id=study.id, site_id=site.id, protocol_version_id=pv.id,
                      screening_number="SCR-001", screened_at=NOW, screened_offset_min=480,
                      screened_by_user_id=user.id, consent_date=date(2026, 5, 3))
    scr.answers.append(m.EligibilityAnswer(criterion_code="age", raw_text="54", met=True))
    s.add(scr)
    failed = m.Screening(study_id=study.id, site_id=site.id, protocol_version_id=pv.id,
                         screening_number="SCR-002", screened_at=NOW, screened_offset_min=480,
                         screened_by_user_id=user.id)
    failed.failure_reasons.append(m.ScreenFailureReason(criterion_code="days_since_onset",
                                                        reason="onset 40 days ago (max 30)"))
    s.add(failed)
    s.flush()
    subj = m.Subject(study_id=study.id, site_id=site.id, screening_id=scr.id,
                     protocol_version_id=pv.id, subject_code="STC-ICH-S01-001",
                     enrolled_at=NOW, enrolled_offset_min=480, enrolled_by_user_id=user.id,
                     stroke_onset_at=NOW - timedelta(days=12), stroke_onset_offset_min=480,
                     anchor_date=date(2026, 5, 4), strata={"site": "S01", "nihss": ">10"})
    s.add(subj)
    s.flush()
    visit = m.Visit(subject_id=subj.id, protocol_version_id=pv.id, visit_code="M1",
                    visit_name="Month 1", visit_number=1, expected_date=date(2026, 6, 3),
                    window_before_days=7, window_after_days=7)
    rl = m.RandomizationList(study_id=study.id, protocol_version_id=pv.id, name="main",
                             method="permuted_blocks", created_at=NOW, created_offset_min=0,
                             created_by_user_id=user.id)
    s.add_all([visit, rl])
    s.flush()
    s.add(m.RandomizationState(list_id=rl.id, state={"method": "permuted_blocks"},
                               state_sha256="0" * 64, updated_at=NOW, updated_offset_min=0))
    alloc = m.SubjectAllocation(list_id=rl.id, subject_id=subj.id, arm_id=arm.id,
                                sequence_number=1, stratum="site=S01", strata={"site": "S01"},
                                detail={"block": {"number": 1, "size": 4, "position": 1}},
                                allocated_at=NOW, allocated_offset_min=480,
                                allocated_by_user_id=user.id,
                                allocated_by_role=Role.COORDINATOR)
    lot = m.ProductLot(study_id=study.id, lot_number="LOT-1", cell_type="UC-MSC",
                       source_tissue="umbilical cord", donor_type="allogeneic",
                       donor_code="D-9", total_cells=1e8, volume_ml=10.0)
    s.add_all([alloc, lot])
    s.flush()
    rel = m.LotRelease(lot_id=lot.id, decision=LotStatus.RELEASED, decided_at=NOW,
                       decided_offset_min=480, decided_by_user_id=user.id)
    rel.tests.append(m.ReleaseTest(test_code="CD73", raw_text="98.2%", value=98.2, unit="%",
                                   specification=">= 95%", passed=True))
    s.add_all([rel, m.UnblindingEvent(subject_id=subj.id, allocation_id=alloc.id,
                                      user_id=user.id, role=Role.INVESTIGATOR, emergency=True,
                                      reason="suspected anaphylaxis", unblinded_at=NOW,
                                      unblinded_offset_min=480)])
    form = m.FormInstance(subject_id=subj.id, visit_id=visit.id, protocol_version_id=pv.id,
                          form_code="mbi", instrument_code="mbi", created_at=NOW,
                          created_offset_min=480, created_by_user_id=user.id, updated_at=NOW,
                          updated_offset_min=480, updated_by_user_id=user.id)
    form.items.append(m.ItemValue(item_code="feeding", raw_text="8", value_type=ValueType.INTEGER,
                                  value_int=8))
    form.derived.append(m.DerivedValue(param_code="MBI", value_num=8.0, engine="mbi 1.0",
                                       computed_at=NOW))
    s.add(form)
    s.flush()
    adm = m.Administration(subject_id=subj.id, lot_id=lot.id, visit_id=None,
                           form_instance_id=form.id, protocol_version_id=pv.id,
                           administration_number=1, administered_at=NOW,
                           administered_offset_min=480, operator_user_id=user.id,
                           weight_kg=70.0, cell_count=7e7, viability_pct=92.0,
                           dose_cells_per_kg=1e6, concentration_cells_per_ml=4.67e7,
                           volume_ml=1.5, route="intra-arterial", vessel="MCA",
                           infusion_rate_ml_per_min=0.5, hours_since_onset=300.0,
                           post_imaging_done=True, new_dwi_lesions=0)
    ae = m.AdverseEvent(subject_id=subj.id, protocol_version_id=pv.id, ae_number=1,
                        term="Fever", body_system="General disorders",
                        onset_date=date(2026, 5, 5), ctcae_grade=1, serious=False,
                        related_to_product="possible", related_to_procedure="unlikely",
                        expected=True, action_taken="none", outcome="recovered",
                        reported_at=NOW, reported_offset_min=480, reported_by_user_id=user.id)
    s.add_all([adm, ae])
    s.flush()
    q = m.DataQuery(study_id=study.id, subject_id=subj.id, form_instance_id=form.id,
                    item_code="feeding", opened_at=NOW, opened_offset_min=0)
    q.messages.append(m.QueryMessage(action="open", body="Please confirm 8", written_at=NOW,
                                     written_offset_min=0, author_role=Role.MONITOR))
    s.add_all([
        q,
        m.ProtocolDeviation(study_id=study.id, subject_id=subj.id, administration_id=adm.id,
                            protocol_version_id=pv.id, category="timing",
                            description="day 12.5 of 10-18: within", detected_at=NOW,
                            detected_offset_min=0),
        m.SafetySignal(study_id=study.id, protocol_version_id=pv.id, rule_code="SAE_RELATED",
                       description="2 related SAEs", observed=2, threshold=2,
                       adverse_event_id=ae.id, triggered_at=NOW),
        m.RecordLock(study_id=study.id, scope="form", subject_id=subj.id,
                     form_instance_id=form.id, locked_at=NOW, locked_offset_min=0,
                     locked_by_user_id=user.id),
        m.Signature(study_id=study.id, scope="subject", subject_id=subj.id, user_id=user.id,
                    role=Role.INVESTIGATOR, meaning="I approve the data in this casebook",
                    content_sha256="1" * 64, reauthenticated=True, signed_at=NOW,
                    signed_offset_min=480),
    ])
    s.add_all([  # web plumbing (models/_web.py)
        m.WebSession(key_sha256="2" * 64, user_id=user.id, study_id=study.id,
                     role=Role.INVESTIGATOR, offset_min=480, created_at=NOW,
                     last_seen_at=NOW, flash='["Saved."]'),
        m.LoginAttempt(address="192.0.2.1", attempted_at=NOW),
        m.LoginFailure(username_sha256="3" * 64, failures=2, locked_until=None,
                       updated_at=NOW),
    ])
    s.flush()
    return {"study": study.id, "user": user.id, "form": form.id, "subject": subj.id,
            "pv": pv.id}
