"""The WSK close visualizer: a teaching tool for closing a Winsock Kernel socket without races."""
