"""The case library (以案说法) and the 护薪 volunteer teams."""
