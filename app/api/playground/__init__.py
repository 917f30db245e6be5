"""The playground page: GET / and its files."""
