"""Filter parsing, binding and the reference evaluator."""
