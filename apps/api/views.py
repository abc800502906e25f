"""The API's endpoints (docs/api.md). Reads go through scoping.scope_for_key (the
key's dealer only: another dealer's id is 404); writes go through
apps.leads.services, whose refusals come back as 400 with their own field names
and messages (errors.violations_response), as on the workbench.
"""
from __future__ import annotations

from django.db.models import Prefetch
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.response import Response

from apps.leads import selectors, services
from apps.leads.models import FollowUp, Lead, Origin, Reason, ReasonMapping, SalesStage, Source, StageMapping
from apps.leads.statuses import Status
from apps.vendors.core.registry import ADAPTERS

from . import serializers as s
from .errors import violations_response
from .pagination import ChangedCursorPagination
from .scoping import scope_for_key

ERRORS = {400: s.ErrorsSerializer, 401: s.ErrorsSerializer, 403: s.ErrorsSerializer, 404: s.ErrorsSerializer,
          429: s.ErrorsSerializer}
READ_ERRORS = {code: ERRORS[code] for code in (401, 404, 429)}
# The detail's timeline: its newest entries, at most this many (docs/api.md).
TIMELINE_LIMIT = 200

LIST_FILTERS = [
    OpenApiParameter("status", str, enum=Status.values, description="Only leads with this status."),
    OpenApiParameter("vendor", str, enum=[*ADAPTERS, s.MANUAL],
                     description='Only leads from this vendor kind; "manual": from no vendor.'),
    OpenApiParameter("owner", int, description="Only leads owned by this user id."),
    OpenApiParameter("updated_since", OpenApiTypes.DATETIME,
                     description="Only leads changed at or after this time, inclusive (ISO 8601; without a zone, "
                                 "UTC)."),
]


@csrf_exempt  # a POST from a DMS carries no CSRF token: it gets this 404, not the CSRF 403 page
def not_found(request, *args, **kwargs):
    """Any other path under /api/v1/: a 404 in the API's error format, not
    Django's HTML page (the last pattern of apps/api/urls.py)."""
    return JsonResponse({"errors": [{"field": "", "code": "not_found",
                                     "message": "There is no such API endpoint: see /api/v1/docs/."}]}, status=404)


@extend_schema_view(
    list=extend_schema(summary="List leads", parameters=LIST_FILTERS, responses={200: s.LeadListSerializer(many=True),
                                                                              **READ_ERRORS, 400: s.ErrorsSerializer},
                       description="The dealer's leads in the order they changed, oldest change first "
                                   "(updated_at, id), 100 a page (page_size up to 500). Follow `next` until it is "
                                   "null; store the last page's `cursor` to ask for what changed since."),
    retrieve=extend_schema(summary="One lead, with its follow-ups and timeline",
                           responses={200: s.LeadDetailSerializer, **READ_ERRORS}),
    create=extend_schema(summary="Create a lead", request=s.LeadCreateSerializer,
                         responses={201: s.LeadDetailSerializer, **ERRORS},
                         description="As if typed in by hand: the dealer's routing and assignment rules apply, "
                                     "and a lead of the same customer is recognised."),
)
class LeadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = ChangedCursorPagination
    lookup_value_converter = "api_id"  # anything else is no lead: the API's 404 (urls.py), never a 500
    serializer_class = s.LeadListSerializer
    queryset = Lead.objects.none()  # the schema's model; every request's comes from get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular building the schema: no key
            return Lead.objects.none()
        return scope_for_key(Lead.objects.all(), self.request.auth)

    def get_serializer_class(self):
        return {"retrieve": s.LeadDetailSerializer, "create": s.LeadCreateSerializer}.get(self.action,
                                                                                         s.LeadListSerializer)

    def filter_queryset(self, queryset):
        """The list's filters (s.LeadListFilterSerializer: a bad value is a 400
        naming it). The page is read in (updated_at, id) order from the dealer's
        part of one index, whose entries also hold the status, the owner and
        the account, so those filters (and vendor=manual, no account) skip leads
        without reading them; a vendor kind joins each lead's account
        (apps/leads/models.py, lead_api_list_idx)."""
        checked = s.LeadListFilterSerializer(data=self.request.query_params)
        checked.is_valid(raise_exception=True)
        wanted = checked.validated_data
        if "status" in wanted:
            queryset = queryset.filter(status=wanted["status"])
        if wanted.get("vendor") == s.MANUAL:
            queryset = queryset.filter(vendor_account__isnull=True)
        elif "vendor" in wanted:
            # By the account's kind, not the dealer's own accounts: a lead can reach
            # its dealer through another dealer's shared Cat account (it keeps that
            # account, apps/vendors/cat/inbound.py). The lead's dealer is the key's.
            queryset = queryset.filter(vendor_account__vendor=wanted["vendor"])
        if "owner" in wanted:
            queryset = queryset.filter(owner_id=wanted["owner"])
        if "updated_since" in wanted:
            queryset = queryset.filter(updated_at__gte=wanted["updated_since"])  # inclusive (docs/api.md)
        return queryset

    def list(self, request, *args, **kwargs):
        queryset = (self.filter_queryset(self.get_queryset())
                    .select_related("owner", "sales_stage", "vendor_account").only(*s.LIST_FIELDS))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.LeadListSerializer(page, many=True).data)

    def _lead(self, pk) -> Lead:
        return get_object_or_404(self.get_queryset().select_related("dealer", "owner", "sales_stage",
                                                                    "vendor_account"), pk=pk)

    def _detail(self, pk, status_code=status.HTTP_200_OK) -> Response:
        """The lead as GET /leads/{id}/ shows it: one read of the lead (with its
        related rows) and one of its follow-ups, which the timeline reuses; the
        timeline's newest TIMELINE_LIMIT entries."""
        followups = FollowUp.objects.order_by("scheduled_at", "id").select_related("assigned_to", "done_by",
                                                                                   "created_by")
        lead = get_object_or_404(self.get_queryset().select_related("dealer", "owner", "sales_stage", "vendor_account")
                                 .prefetch_related(Prefetch("followups", followups)), pk=pk)
        timeline = selectors.lead_timeline(lead, followups=lead.followups.all())[:TIMELINE_LIMIT]
        data = s.LeadDetailSerializer(lead, context={"timeline": timeline}).data
        return Response(data, status=status_code)

    def retrieve(self, request, pk=None):
        return self._detail(pk)

    def create(self, request, *args, **kwargs):
        """A lead as staff enter one by hand, through services.lead_create (the
        model's validation with the key's dealer; routing, assignment rules and
        customer recognition), with origin "api"."""
        serializer = s.LeadCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        result = services.lead_create(dealer=request.auth.dealer, data=serializer.validated_data, origin=Origin.API,
                                      actor_label=request.auth.actor_label)
        if not result.ok:
            return violations_response(result.errors)
        return self._detail(result.lead.pk, status.HTTP_201_CREATED)

    @extend_schema(summary="Change the status or sales stage", request=s.StatusChangeInSerializer,
                   responses={200: s.LeadDetailSerializer, **ERRORS},
                   description="Through LeadHub's status service: LeadHub's rules and those of the lead's vendor. "
                               "A refusal is a 400 listing every problem with the field it is about, in the words "
                               "the workbench uses. An accepted lead changes stage with to_status \"accepted\".")
    @action(detail=True, methods=["post"], url_path="status")
    def change_status(self, request, pk=None):
        lead = self._lead(pk)
        serializer = s.StatusChangeInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reason = self._own(Reason, data.get("reason"), "reason", "reasons")
        stage = self._own(SalesStage, data.get("stage"), "stage", "stages")
        updates = {name: data[name] for name in s.StatusChangeInSerializer.OUTCOME_FIELDS if name in data}
        if "currency" in updates:
            updates["currency"] = (updates["currency"] or "").upper()  # as the workbench's form does
        change = services.StatusChange(to_status=data["to_status"], reason=reason, stage=stage,
                                       probability=data.get("probability"), sub_status=data["sub_status"],
                                       comment=data["comment"], updates=updates, actor=None)
        result = services.lead_apply_status_change(lead=lead, change=change, source=Source.API,
                                                   actor_label=request.auth.actor_label)
        if not result.ok:
            return violations_response(result.errors)
        return self._detail(lead.pk)

    def _own(self, model, pk, field: str, listing: str):
        """The dealer's own reason or stage by id (inactive ones too: the service
        says they are no longer in use); another dealer's is "no such"."""
        if pk is None:
            return None
        found = scope_for_key(model.objects.filter(pk=pk), self.request.auth).first()
        if found is None:
            raise ValidationError({field: ErrorDetail(f"There is no {field} {pk} at this dealer "
                                                      f"(see GET /api/v1/{listing}/).", code="does_not_exist")})
        return found

    @extend_schema(methods=["GET"], summary="The lead's follow-ups",
                   responses={200: s.FollowUpSerializer(many=True), **READ_ERRORS})
    @extend_schema(methods=["POST"], summary="Schedule a follow-up", request=s.FollowUpScheduleInSerializer,
                   responses={201: s.FollowUpSerializer, **ERRORS})
    @action(detail=True, methods=["get", "post"], url_path="followups")
    def followups(self, request, pk=None):
        lead = self._lead(pk)
        if request.method == "GET":
            followups = FollowUp.objects.filter(lead=lead).order_by("scheduled_at", "id")
            return Response(s.FollowUpSerializer(followups, many=True).data)
        serializer = s.FollowUpScheduleInSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        result = services.followup_schedule(lead=lead, actor=None, actor_label=request.auth.actor_label,
                                            **serializer.validated_data)
        if not result.ok:
            return violations_response(result.errors)
        return Response(s.FollowUpSerializer(result.followup).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Complete a follow-up", request=s.FollowUpCompleteInSerializer,
                   responses={200: s.FollowUpResultSerializer, **ERRORS},
                   description="Records what happened; with next_at, schedules the next one. A follow-up done "
                               "already is refused (400, code already_done).")
    @action(detail=True, methods=["post"], url_path="followups/<api_id:followup_id>/complete")
    def complete_followup(self, request, pk=None, followup_id=None):
        lead = self._lead(pk)
        followup = get_object_or_404(FollowUp, pk=followup_id, lead=lead)
        serializer = s.FollowUpCompleteInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = services.followup_complete(followup=followup, actor=None, outcome_notes=data["outcome_notes"],
                                            next_at=data.get("next_at"), next_kind=data.get("next_kind") or None,
                                            actor_label=request.auth.actor_label)
        if not result.ok:
            return violations_response(result.errors)
        return Response(s.FollowUpResultSerializer({"followup": result.followup, "next": result.next}).data)

    @extend_schema(summary="Add a note", request=s.NoteInSerializer,
                   responses={201: s.TimelineEntrySerializer(many=True), **ERRORS},
                   description="A note for the dealer's team, on the lead's timeline; no vendor is told. "
                               "Answers the lead's timeline.")
    @action(detail=True, methods=["post"], url_path="notes")
    def notes(self, request, pk=None):
        lead = self._lead(pk)
        serializer = s.NoteInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.lead_add_note(lead=lead, text=serializer.validated_data["text"], actor=None,
                                        actor_label=request.auth.actor_label)
        if not result.ok:
            return violations_response(result.errors)
        return Response(s.TimelineEntrySerializer(selectors.lead_timeline(lead), many=True).data,
                        status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(summary="The dealer's reasons, with their vendor mappings",
                                       responses={200: s.ReasonSerializer(many=True), **READ_ERRORS}))
class ReasonViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ReasonSerializer
    queryset = Reason.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Reason.objects.none()
        return scope_for_key(Reason.objects.order_by("kind", "position", "label", "id"), self.request.auth) \
            .prefetch_related(Prefetch("mappings", ReasonMapping.objects.order_by("vendor")))


@extend_schema_view(list=extend_schema(summary="The dealer's sales stages, with their vendor mappings",
                                       responses={200: s.StageSerializer(many=True), **READ_ERRORS}))
class StageViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.StageSerializer
    queryset = SalesStage.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SalesStage.objects.none()
        return scope_for_key(SalesStage.objects.order_by("position", "name", "id"), self.request.auth) \
            .prefetch_related(Prefetch("mappings", StageMapping.objects.order_by("vendor")))
