"""The display edge: screens drawn for a 128x64 OLED, a terminal, or PNG files."""
