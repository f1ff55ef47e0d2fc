from plugyard.cli import main

main()
