"""System status: live workers and each project's sampling state."""
