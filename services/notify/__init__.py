"""The notification service: reminders before deadlines and progress messages to workers."""
