# bash completion for gcrun: script names, options and their values.
# The lists come from gcrun itself (gcrun --complete), the same
# declarations its parser and --help use, so they cannot fall behind.
# Installed by `make install` as bash-completion's completions/gcrun;
# or source it from ~/.bashrc.

_gcrun_options()   # _gcrun_options CMD [SCRIPT] -> lines "--name<TAB>METAVAR<TAB>choices"
{
    "$1" --complete options ${2:+"$2"} 2>/dev/null
}

_gcrun()
{
    local cmd=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]}
    local prev= script= i w name meta choices
    local -A takes=() choices_of=()
    local opts names=

    # the options before the script name are gcrun's own and the common ones
    opts=$(_gcrun_options "$cmd")
    while IFS=$'\t' read -r name meta choices; do
        takes[$name]=$meta; choices_of[$name]=$choices
    done <<< "$opts"

    # find the script: the first word that is neither an option nor an
    # option's value
    i=1
    while [ "$i" -lt "$COMP_CWORD" ]; do
        w=${COMP_WORDS[i]}
        if [ "$w" = -e ] || [ "$w" = --eval ]; then script=-e; break; fi
        case $w in
            --*=*) ;;
            -*) [ -n "${takes[$w]}" ] && i=$((i + 1)) ;;
            *) script=$w; break ;;
        esac
        i=$((i + 1))
    done

    if [ -n "$script" ] && [ "$script" != -e ]; then
        opts=$(_gcrun_options "$cmd" "$script")
        takes=(); choices_of=()
        while IFS=$'\t' read -r name meta choices; do
            takes[$name]=$meta; choices_of[$name]=$choices; names+=" $name"
        done <<< "$opts"
    else
        while IFS=$'\t' read -r name meta choices; do names+=" $name"; done <<< "$opts"
    fi

    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    if [ -n "$prev" ] && [ -n "${takes[$prev]}" ]; then
        # the value of an option: its choices, or a file name
        if [ -n "${choices_of[$prev]}" ]; then
            mapfile -t COMPREPLY < <(compgen -W "${choices_of[$prev]}" -- "$cur")
        else
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        fi
    elif [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$names" -- "$cur")
    elif [ -z "$script" ]; then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -W "$("$cmd" --complete scripts 2>/dev/null)" -- "$cur"; \
            compgen -f -X '!*.lua' -- "$cur"; compgen -d -- "$cur")
    else
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
    return 0
}

complete -F _gcrun gcrun
