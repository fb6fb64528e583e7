import './ui.css';
