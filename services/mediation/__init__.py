"""Labour-dispute mediation (劳动争议调解): applications, the legal clocks, agreements."""
