"""Activities for OpenText Core Signature: create, cancel, poll and collect signed evidence."""

from __future__ import annotations

from temporalio import activity

from docflow.models import (
    CreateSignatureInput,
    SignatureDocumentStatus,
    SignatureRequestCreated,
    SignedArtifacts,
)


class CoreSignatureActivities:
    @activity.defn(name="create_signature_request")
    async def create_signature_request(
        self, request: CreateSignatureInput
    ) -> SignatureRequestCreated:
        raise NotImplementedError

    @activity.defn(name="cancel_signature_request")
    async def cancel_signature_request(self, ref: SignatureRequestCreated) -> None:
        raise NotImplementedError

    @activity.defn(name="get_signature_status")
    async def get_signature_status(self, ref: SignatureRequestCreated) -> SignatureDocumentStatus:
        raise NotImplementedError

    @activity.defn(name="fetch_signed_artifacts")
    async def fetch_signed_artifacts(self, ref: SignatureRequestCreated) -> SignedArtifacts:
        raise NotImplementedError
