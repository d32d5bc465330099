"""The web portal: pages for reps, group members, mediators, follow-up officers and auditors."""
