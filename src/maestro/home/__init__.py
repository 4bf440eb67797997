"""Home Assistant: the box as an MQTT device (discovery, state, commands)."""
