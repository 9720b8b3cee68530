"""The ``housecall demo`` machinery: the run itself, a simulated field-service team, the views."""
