"""Users, their tokens and browser sessions, and who may see what."""
