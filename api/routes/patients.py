"""Patients (dispatchers and admins). Every read and write is audited by id; responses are never cached."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import DispatcherUser, PathId, PolicyDep, RequireDispatcher, SessionDep, audit
from api.errors import documented
from api.models import PatientCreate, PatientPublic, PatientUpdate
from dispatch.records.bookings import PatientInput, create_patient, delete_patient, get_patient, update_patient
from dispatch.store.tables import Patient

router = APIRouter(prefix="/patients", tags=["patients"], dependencies=[RequireDispatcher])
NOT_FOUND = documented(404, "no patient with this id")


def patient_public(patient: Patient) -> PatientPublic:
    assert patient.id is not None
    return PatientPublic(
        id=patient.id,
        full_name=patient.full_name,
        display_name=patient.display_name,
        phone=patient.phone,
        date_of_birth=patient.date_of_birth,
        screening=dict(patient.screening),
    )


@router.post("", response_model=PatientPublic, status_code=status.HTTP_201_CREATED)
def add_patient(body: PatientCreate, user: DispatcherUser, session: SessionDep, policy: PolicyDep) -> PatientPublic:
    patient = create_patient(session, data=PatientInput(**body.model_dump()), policy=policy)
    audit(session, user, action="write", resource="patient", resource_ids=[patient.id or 0], outcome="created")
    return patient_public(patient)


@router.get("/{patient_id}", response_model=PatientPublic, responses=NOT_FOUND)
def read_patient(patient_id: PathId, user: DispatcherUser, session: SessionDep) -> PatientPublic:
    patient = get_patient(session, patient_id=patient_id)
    audit(session, user, action="read", resource="patient", resource_ids=[patient_id])
    return patient_public(patient)


@router.patch("/{patient_id}", response_model=PatientPublic, responses=NOT_FOUND)
def edit_patient(
    patient_id: PathId, body: PatientUpdate, user: DispatcherUser, session: SessionDep, policy: PolicyDep
) -> PatientPublic:
    patient = update_patient(session, patient_id=patient_id, changes=body.model_dump(exclude_unset=True), policy=policy)
    audit(session, user, action="write", resource="patient", resource_ids=[patient_id], outcome="updated")
    return patient_public(patient)


@router.delete(
    "/{patient_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**NOT_FOUND, 409: {"description": "the patient is on a booking"}},
)
def remove_patient(patient_id: PathId, user: DispatcherUser, session: SessionDep) -> Response:
    """Delete a patient who is on no booking."""
    delete_patient(session, patient_id=patient_id)
    audit(session, user, action="write", resource="patient", resource_ids=[patient_id], outcome="deleted")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
