"""The configuration search: the space of deployments, their evaluation, the SLA, the Pareto frontier and the pick."""
