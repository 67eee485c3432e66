"""The scenes of the day, each a function of the `Day` (stage.py), played in the
order of script.py."""
