from __future__ import annotations

from django.urls import path

from chatter import (
    attachment_views,
    group_views,
    mention_views,
    message_views,
    moderation_views,
    notify_views,
    push_views,
    search_views,
    views,
)

app_name = "chatter"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create_group, name="create_group"),
    path("users/", views.user_search, name="user_search"),
    path("search/", search_views.message_search, name="search"),
    path("with/<str:username>/", views.chat_with, name="chat_with"),
    path("blocked/", moderation_views.blocked, name="blocked"),
    path("sw.js", push_views.service_worker, name="service_worker"),
    path("push/subscribe/", push_views.subscribe, name="push_subscribe"),
    path("push/unsubscribe/", push_views.unsubscribe, name="push_unsubscribe"),
    path("block/<str:username>/", moderation_views.block, name="block"),
    path("unblock/<str:username>/", moderation_views.unblock, name="unblock"),
    path("preferences/", notify_views.preferences, name="preferences"),
    path("<uuid:room_id>/", views.chatroom, name="chatroom"),
    path("<uuid:room_id>/history/", views.history, name="history"),
    path("<uuid:room_id>/item/", views.room_item, name="room_item"),
    path("<uuid:room_id>/send/", views.send, name="send"),
    path("<uuid:room_id>/upload/", attachment_views.upload, name="upload"),
    path(
        "<uuid:room_id>/files/<uuid:attachment_id>/", attachment_views.attachment, name="attachment"
    ),
    path(
        "<uuid:room_id>/files/<uuid:attachment_id>/thumb/",
        attachment_views.thumbnail,
        name="attachment_thumb",
    ),
    path("<uuid:room_id>/members/", mention_views.mention_search, name="mention_search"),
    path("<uuid:room_id>/mute/", notify_views.mute, name="mute"),
    path("<uuid:room_id>/group/", group_views.group, name="group"),
    path("<uuid:room_id>/group/rename/", group_views.rename, name="group_rename"),
    path("<uuid:room_id>/group/add/", group_views.add, name="group_add"),
    path("<uuid:room_id>/group/remove/", group_views.remove, name="group_remove"),
    path("<uuid:room_id>/group/leave/", group_views.leave, name="group_leave"),
    path("<uuid:room_id>/m/<int:seq>/", message_views.message, name="message"),
    path("<uuid:room_id>/m/<int:seq>/edit/", message_views.edit, name="edit"),
    path("<uuid:room_id>/m/<int:seq>/delete/", message_views.delete, name="delete"),
    path("<uuid:room_id>/m/<int:seq>/react/", message_views.react, name="react"),
    path("<uuid:room_id>/m/<int:seq>/report/", moderation_views.report, name="report"),
]
