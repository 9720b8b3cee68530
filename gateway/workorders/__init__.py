"""Work orders: findings in, pre-diagnosed tickets through dispatch, SLA and fix verification out."""
