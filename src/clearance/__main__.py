from clearance.cli.main import main

main()
