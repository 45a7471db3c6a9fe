"""Local fake provider servers speaking the providers' wire formats on 127.0.0.1."""
