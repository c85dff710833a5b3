// Convas is a desktop studio for convolutional networks. With no arguments it opens the window;
// with a subcommand (convas help lists them) it runs the same job headless.
package main

import (
	"flag"
	"fmt"
	"os"

	"convas/cli"
	_ "convas/internal/localefix" // before Fyne's init: see the package doc
	"convas/ui"
)

func main() {
	if len(os.Args) > 1 && cli.IsCommand(os.Args[1]) {
		os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	fs := flag.NewFlagSet("convas", flag.ContinueOnError)
	var o ui.Options
	fs.StringVar(&o.Preset, "preset", "", "select this training preset at start")
	fs.IntVar(&o.Steps, "steps", 0, "override the preset's generations")
	fs.BoolVar(&o.Train, "train", false, "start training at once")
	fs.BoolVar(&o.Dream, "dream", false, "open the Dream tab and start dreaming at once")
	fs.BoolVar(&o.Stylize, "stylize", false, "open the Stylize tab and stylize the default samples at once")
	fs.StringVar(&o.Retrain, "retrain", "", "open the Transfer tab on this `folder` of class folders and retrain at once")
	fs.DurationVar(&o.QuitAfter, "quit-after", 0, "close the window after this long (for smoke tests)")
	fs.BoolVar(&o.QuitWhenDone, "quit-when-done", false, "close the window when the started training ends")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			return
		}
		fmt.Fprintf(os.Stderr, "convas: %v (try: convas help)\n", err)
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "convas: unknown command %q (try: convas help)\n", fs.Arg(0))
		os.Exit(2)
	}
	if err := ui.Run(o); err != nil {
		fmt.Fprintf(os.Stderr, "convas: %v\n", err)
		os.Exit(2)
	}
}
