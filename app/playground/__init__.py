"""The playground: two answers to one prompt side by side, streamed, then a vote."""
