"""Follow-up (跟踪回访): tracking, satisfaction call-backs, performance checks and reminders."""
