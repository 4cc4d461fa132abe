"""Parts of the security correlation evaluation (`python -m jobs.eval_security`)."""
