from clearance.cli.helptext import main

main()
