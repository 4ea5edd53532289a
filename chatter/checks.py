"""Django system checks for likely misconfigurations of Chatter."""
