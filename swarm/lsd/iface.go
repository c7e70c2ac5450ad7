package lsd

import (
	"fmt"
	"net"
)

// lanInterface is an interface announces go out on, with the families it
// has an address of.
type lanInterface struct {
	net.Interface
	v4, v6 bool
	// src4 is the interface's first IPv4 address, the source of its
	// announces: with only the interface index, Linux sends from 0.0.0.0
	// on lo.
	src4 net.IP
}

// chooseInterfaces returns the interfaces to use: the named ones (which
// must exist and be up; loopback is allowed when named), or every one
// that is up, multicast-capable and not loopback.
func chooseInterfaces(names []string) ([]lanInterface, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	if len(names) == 0 {
		var out []lanInterface
		for _, ifi := range all {
			if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 && ifi.Flags&net.FlagLoopback == 0 {
				out = appendWithFamilies(out, ifi)
			}
		}
		return out, nil
	}
	var out []lanInterface
	for _, name := range names {
		ifi, err := findInterface(all, name)
		if err != nil {
			return nil, err
		}
		out = appendWithFamilies(out, ifi)
	}
	return out, nil
}

func findInterface(all []net.Interface, name string) (net.Interface, error) {
	for _, ifi := range all {
		if ifi.Name != name {
			continue
		}
		if ifi.Flags&net.FlagUp == 0 {
			return ifi, fmt.Errorf("lsd interface %s: it is down", name)
		}
		return ifi, nil
	}
	return net.Interface{}, fmt.Errorf("lsd interface %s: no such interface", name)
}

// appendWithFamilies appends ifi with the families it has addresses of;
// an interface with none is left out.
func appendWithFamilies(out []lanInterface, ifi net.Interface) []lanInterface {
	li := lanInterface{Interface: ifi}
	addrs, err := ifi.Addrs()
	if err != nil {
		return out
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ip4 := ipn.IP.To4(); ip4 != nil {
			if !li.v4 {
				li.src4 = ip4
			}
			li.v4 = true
		} else {
			li.v6 = true
		}
	}
	if !li.v4 && !li.v6 {
		return out
	}
	return append(out, li)
}

// InterfaceWithAddr is the name of the interface holding ip: a node that
// listens on one address announces on that address's interface only (a
// peer could not reach it through another).
func InterfaceWithAddr(ip net.IP) (string, error) {
	all, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("list interfaces: %w", err)
	}
	for _, ifi := range all {
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.Equal(ip) {
				return ifi.Name, nil
			}
		}
	}
	return "", fmt.Errorf("no interface has address %s", ip)
}
