# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_gslbd_global_optspecs
    string join \n log-format= h/help V/version
end

function __fish_gslbd_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_gslbd_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_gslbd_using_subcommand
    set -l cmd (__fish_gslbd_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c gslbd -n "__fish_gslbd_needs_command" -l log-format -d 'Log format' -r -f -a "text\t''
json\t''"
complete -c gslbd -n "__fish_gslbd_needs_command" -s h -l help -d 'Print help'
complete -c gslbd -n "__fish_gslbd_needs_command" -s V -l version -d 'Print version'
complete -c gslbd -n "__fish_gslbd_needs_command" -f -a "serve" -d 'Serve DNS (and HTTP). With no --config and no --zone, serves the built-in example'
complete -c gslbd -n "__fish_gslbd_needs_command" -f -a "check" -d 'Validate the configuration and every zone file; print every problem; exit 0 or 64'
complete -c gslbd -n "__fish_gslbd_needs_command" -f -a "demo" -d 'Run the built-in example against local stand-ins for its three clouds, which you can fail'
complete -c gslbd -n "__fish_gslbd_needs_command" -f -a "keygen" -d 'Make a DNSSEC key pair in BIND\'s format (K<zone>.+<alg>+<tag>.key and .private) and print its DS record'
complete -c gslbd -n "__fish_gslbd_needs_command" -f -a "explain" -d 'Ask a running server why a client gets its answer (GET /explain on its HTTP listener); prints the JSON'
complete -c gslbd -n "__fish_gslbd_using_subcommand serve" -s c -l config -d 'Configuration file (YAML)' -r -F
complete -c gslbd -n "__fish_gslbd_using_subcommand serve" -l zone -d 'Zone file to serve, as FILE or ORIGIN=FILE; replaces the config\'s zones. Repeatable' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand serve" -l dns-listen -d 'DNS listen address (UDP and TCP), e.g. 127.0.0.1:5353. Repeatable' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand serve" -l http-listen -d 'HTTP listen address for /metrics, /status, /healthz, /ready and the admin API, or `off` for none (as `server.http_listen: off` in the config file)' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand serve" -l rrl -d 'UDP response rate limiting: `off` disables it (e.g. for benchmarks from one client); `on` enables it even where the config turned it off. Default: as the config says (on)' -r -f -a "on\t''
off\t''"
complete -c gslbd -n "__fish_gslbd_using_subcommand serve" -l log-format -d 'Log format' -r -f -a "text\t''
json\t''"
complete -c gslbd -n "__fish_gslbd_using_subcommand serve" -s h -l help -d 'Print help'
complete -c gslbd -n "__fish_gslbd_using_subcommand check" -s c -l config -d 'Configuration file (YAML)' -r -F
complete -c gslbd -n "__fish_gslbd_using_subcommand check" -l zone -d 'Zone file to serve, as FILE or ORIGIN=FILE; replaces the config\'s zones. Repeatable' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand check" -l dns-listen -d 'DNS listen address (UDP and TCP), e.g. 127.0.0.1:5353. Repeatable' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand check" -l http-listen -d 'HTTP listen address for /metrics, /status, /healthz, /ready and the admin API, or `off` for none (as `server.http_listen: off` in the config file)' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand check" -l rrl -d 'UDP response rate limiting: `off` disables it (e.g. for benchmarks from one client); `on` enables it even where the config turned it off. Default: as the config says (on)' -r -f -a "on\t''
off\t''"
complete -c gslbd -n "__fish_gslbd_using_subcommand check" -l log-format -d 'Log format' -r -f -a "text\t''
json\t''"
complete -c gslbd -n "__fish_gslbd_using_subcommand check" -s h -l help -d 'Print help'
complete -c gslbd -n "__fish_gslbd_using_subcommand demo" -l dns-listen -d 'DNS listen address (UDP and TCP) [default: 127.0.0.1:5353]. Repeatable' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand demo" -l http-listen -d 'HTTP listen address for /healthz and /ready [default: 127.0.0.1:9153]' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand demo" -l log-format -d 'Log format' -r -f -a "text\t''
json\t''"
complete -c gslbd -n "__fish_gslbd_using_subcommand demo" -l cluster -d 'Three instances in one cluster on 127.0.0.21-23 (DNS :5353, HTTP :9153, cluster :9180), each probing from its own address'
complete -c gslbd -n "__fish_gslbd_using_subcommand demo" -s h -l help -d 'Print help'
complete -c gslbd -n "__fish_gslbd_using_subcommand keygen" -l zone -d 'The zone the key signs, e.g. example.test' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand keygen" -l algorithm -d 'The signing algorithm' -r -f -a "ecdsap256sha256\t'Algorithm 13, ECDSA P-256 with SHA-256'
ed25519\t'Algorithm 15, Ed25519'"
complete -c gslbd -n "__fish_gslbd_using_subcommand keygen" -l dir -d 'The directory to write the two files into (the zone\'s keys_dir)' -r -F
complete -c gslbd -n "__fish_gslbd_using_subcommand keygen" -l log-format -d 'Log format' -r -f -a "text\t''
json\t''"
complete -c gslbd -n "__fish_gslbd_using_subcommand keygen" -l ksk -d 'Make a key-signing key (flags 257, the key the parent\'s DS names; alone it is a CSK); without it, a zone-signing key (flags 256)'
complete -c gslbd -n "__fish_gslbd_using_subcommand keygen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c gslbd -n "__fish_gslbd_using_subcommand explain" -l http -d 'The server\'s HTTP listener, e.g. 127.0.0.1:9153' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand explain" -l name -d 'The name asked, with its trailing dot' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand explain" -l type -d 'A or AAAA' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand explain" -l client -d 'The resolver\'s address (where the query comes from)' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand explain" -l ecs -d 'The EDNS Client Subnet prefix the query carries, e.g. 192.0.2.0/24' -r
complete -c gslbd -n "__fish_gslbd_using_subcommand explain" -l log-format -d 'Log format' -r -f -a "text\t''
json\t''"
complete -c gslbd -n "__fish_gslbd_using_subcommand explain" -s h -l help -d 'Print help'
