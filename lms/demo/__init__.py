"""A generator of realistic demo sites: `flask lms demo populate --trainees N`."""
