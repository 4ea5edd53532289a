from __future__ import annotations

from django.urls import path

from chatter import consumers

websocket_urlpatterns = [
    path("ws/chatter/", consumers.ChatConsumer.as_asgi()),
    path("ws/chatter/<uuid:room_id>/", consumers.ChatConsumer.as_asgi()),
]
