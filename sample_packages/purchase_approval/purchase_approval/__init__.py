"""Purchase orders: auto-approve small ones, otherwise wait for an approval signal or a timeout."""
