from __future__ import annotations

from django.urls import path

from chatter import views

app_name = "chatter"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create_group, name="create_group"),
    path("users/", views.user_search, name="user_search"),
    path("with/<str:username>/", views.chat_with, name="chat_with"),
    path("<uuid:room_id>/", views.chatroom, name="chatroom"),
    path("<uuid:room_id>/history/", views.history, name="history"),
    path("<uuid:room_id>/item/", views.room_item, name="room_item"),
    path("<uuid:room_id>/send/", views.send, name="send"),
]
