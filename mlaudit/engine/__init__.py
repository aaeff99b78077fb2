"""Running a check: discover, analyse each file (cached, in parallel), project rules, suppress, adopt."""
