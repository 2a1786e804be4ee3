"""Contract terms across the book: which terms renew or end soon, and by when notice is due."""
