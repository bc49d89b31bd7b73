"""The simulator: stands in for the fleet's phones on a simulated clock (see `engine`)."""
