"""Python providers the experiments call (`"type": "python", "module": "chaos.providers.…"`).

Actions inject and lift faults and record each as a chaos event (`chaos.events`); probes measure
and return plain JSON values that the steady-state tolerances (`chaos.providers.tolerances`)
compare with the SLA objectives.
"""
